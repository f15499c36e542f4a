-- wrk script of scripts/bench-flask: every request POSTs the image in
-- $BENCH_BODY as the raw body with `Authorization: Bearer $BENCH_TOKEN`.
-- Each answer's status is counted, and a 200 counts as good only if its
-- body is a PNG. done() prints one line, `BENCH {json}`, for bench_flask.py.

local f = assert(io.open(assert(os.getenv("BENCH_BODY"), "BENCH_BODY is not set"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Authorization"] = "Bearer " .. assert(os.getenv("BENCH_TOKEN"), "BENCH_TOKEN is not set")
wrk.headers["Content-Type"] = "image/png"

local PNG_MAGIC = "\137PNG\r\n\26\n"

-- Per-thread counters (globals, so that done() can read them with thread:get).
statuses = {}
good = 0
not_png = 0
received = 0

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function response(status, headers, body)
  local key = tostring(status)
  statuses[key] = (statuses[key] or 0) + 1
  received = received + #body
  if status == 200 then
    if body:sub(1, 8) == PNG_MAGIC then
      good = good + 1
    else
      not_png = not_png + 1
    end
  end
end

function done(summary, latency, requests)
  local all, total_good, total_not_png, total_received = {}, 0, 0, 0
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("statuses")) do
      all[status] = (all[status] or 0) + n
    end
    total_good = total_good + thread:get("good")
    total_not_png = total_not_png + thread:get("not_png")
    total_received = total_received + thread:get("received")
  end
  local parts = {}
  for status, n in pairs(all) do
    table.insert(parts, string.format('"%s":%d', status, n))
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH {"duration_us":%d,"requests":%d,"good":%d,"not_png":%d,"received_bytes":%d,'
      .. '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.0f,'
      .. '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},"statuses":{%s}}\n',
    summary.duration, summary.requests, total_good, total_not_png, total_received,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean,
    e.connect, e.read, e.write, e.status, e.timeout, table.concat(parts, ",")))
end
