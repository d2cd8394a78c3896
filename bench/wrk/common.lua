-- Shared by get.lua and upload.lua (wrk runs with this folder as its working directory):
-- numbers the threads, counts answers other than WRK_EXPECT, and writes a JSON summary with the
-- latency percentiles (microseconds) to WRK_OUT when the run is done.
threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

expected = tonumber(os.getenv("WRK_EXPECT") or "200")
unexpected = 0
last_unexpected = 0

function response(status, headers, body)
  if status ~= expected then
    unexpected = unexpected + 1
    last_unexpected = status
  end
end

function done(summary, latency, requests)
  local bad, status = 0, 0
  for _, thread in ipairs(threads) do
    bad = bad + (thread:get("unexpected") or 0)
    local s = thread:get("last_unexpected") or 0
    if s ~= 0 then status = s end
  end
  local errors = summary.errors
  local out = io.open(os.getenv("WRK_OUT"), "w")
  out:write(string.format(
    '{"requests": %d, "duration_us": %d, "bytes": %d, "p50_us": %d, "p95_us": %d, "p99_us": %d, ' ..
    '"max_us": %d, "mean_us": %.1f, "unexpected": %d, "unexpected_status": %d, "connect_errors": %d, ' ..
    '"read_errors": %d, "write_errors": %d, "timeouts": %d}\n',
    summary.requests, summary.duration, summary.bytes, latency:percentile(50), latency:percentile(95),
    latency:percentile(99), latency.max, latency.mean, bad, status, errors.connect, errors.read, errors.write,
    errors.timeout))
  out:close()
end
