-- wrk script for one page: GET with an optional session cookie (WRK_COOKIE). See common.lua.
--   cd bench/wrk && WRK_COOKIE="session=..." WRK_EXPECT=200 WRK_OUT=/tmp/x.json wrk -s get.lua URL
dofile("common.lua")

function init(args)
  local cookie = os.getenv("WRK_COOKIE") or ""
  if cookie ~= "" then
    wrk.headers["Cookie"] = cookie
  end
  wrk.headers["Accept-Language"] = "zh-CN,zh;q=0.9,en;q=0.6"
end
