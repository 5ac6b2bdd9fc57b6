-- Shared by every scenario: one JSON line with what the run measured.
-- `completed` counts the operations a scenario defines (a flow, a refresh...), tallied
-- per thread in `done_ops`.
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function report(summary, latency)
  -- Scenarios that define done_ops count their own operations (zero if all failed);
  -- the others count every successful request.
  local ops, counted = 0, false
  for _, t in ipairs(threads) do
    local n = t:get("done_ops")
    if n then counted = true; ops = ops + n end
  end
  if not counted then ops = summary.requests - summary.errors.status end
  io.write(string.format(
    '{"requests":%d,"ops":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"errors":%d}\n',
    summary.requests, ops, summary.duration, latency:percentile(50), latency:percentile(99),
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end

function done(summary, latency, requests)
  report(summary, latency)
end
