-- wrk script for the submission upload: every request is a multipart POST of one small, unique
-- Markdown file by the next student of WRK_UPLOADS (lines "path<TAB>cookie<TAB>csrf token"),
-- so no student sends two attempts at once and every file is new to storage. Expects 302.
-- See common.lua for the summary (WRK_OUT) and WRK_EXPECT (302 here).
dofile("common.lua")

function init(args)
  students = {}
  for line in io.lines(os.getenv("WRK_UPLOADS")) do
    local path, cookie, token = line:match("^([^\t]+)\t([^\t]+)\t([^\t]+)$")
    if path then
      table.insert(students, {path = path, cookie = cookie, token = token})
    end
  end
  step = tonumber(os.getenv("WRK_THREADS") or "1")
  counter = id
  filler = string.rep("我们先读取原始数据，再检查缺失值和异常值。We load the raw readings first.\n", 40)
end

local function part(boundary, name, value)
  return "--" .. boundary .. "\r\nContent-Disposition: form-data; name=\"" .. name .. "\"\r\n\r\n" .. value .. "\r\n"
end

function request()
  local student = students[(counter % #students) + 1]
  local n = counter
  counter = counter + step
  local boundary = "----lms-wrk-" .. id .. "-" .. n
  local body = part(boundary, "csrf_token", student.token) .. part(boundary, "repo_url", "") ..
    part(boundary, "text", "") ..
    "--" .. boundary .. "\r\nContent-Disposition: form-data; name=\"files\"; filename=\"report.md\"\r\n" ..
    "Content-Type: text/markdown\r\n\r\n# 报告 Report " .. id .. "-" .. n .. " " .. os.time() .. "\n\n" .. filler ..
    "\r\n--" .. boundary .. "--\r\n"
  return wrk.format("POST", student.path, {
    ["Cookie"] = student.cookie,
    ["Content-Type"] = "multipart/form-data; boundary=" .. boundary,
    ["Accept-Language"] = "zh-CN,zh;q=0.9",
  }, body)
end
