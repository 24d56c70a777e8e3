-- wrk script for scripts/bench. The request comes from the environment (BENCH_METHOD, BENCH_BODY,
-- BENCH_TOKEN, and BENCH_HEADERS: extra "Name: value" headers separated by "|"); it counts every request it hands to wrk and every non-2xx answer, and prints one
-- RESULT line that scripts/bench reads.

wrk.method = os.getenv("BENCH_METHOD") or "GET"
local body = os.getenv("BENCH_BODY") or ""
if body ~= "" then
  wrk.body = body
  wrk.headers["Content-Type"] = "application/json"
end
local token = os.getenv("BENCH_TOKEN") or ""
if token ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. token
end

for header in string.gmatch(os.getenv("BENCH_HEADERS") or "", "[^|]+") do
  local name, value = string.match(header, "^%s*([^:]+):%s*(.-)%s*$")
  if name then
    wrk.headers[name] = value
  end
end

local threads = {}
function setup(thread)
  table.insert(threads, thread)
end

-- Per-thread counters, read back in done().
sent, failed = 0, 0

function request()
  sent = sent + 1
  return wrk.format()
end

function response(status)
  if status < 200 or status > 299 then
    failed = failed + 1
  end
end

function done(summary, latency)
  local total_sent, total_failed = 0, 0
  for _, thread in ipairs(threads) do
    total_sent = total_sent + thread:get("sent")
    total_failed = total_failed + thread:get("failed")
  end
  local e = summary.errors
  io.write(string.format("RESULT %d %d %d %.1f %.3f %.3f %d\n",
    summary.requests, total_sent, total_failed, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    e.connect + e.read + e.write + e.timeout))
end
