-- Refresh rotation: every request spends one refresh token and gets its successor,
-- which goes back into the thread's queue. Seeds come from BENCH_REFRESH_FILE, split
-- between threads.
dofile(os.getenv("BENCH_DIR") .. "/report.lua")
local token_path = os.getenv("BENCH_TOKEN_PATH") or "/oauth2/token"
local thread_index = 0
local base_setup = setup
function setup(thread)
  base_setup(thread)
  thread:set("index", thread_index)
  thread_index = thread_index + 1
end

local queue = {}
local head, tail = 1, 0
done_ops = 0

function init(args)
  local n, threads_total = 0, tonumber(os.getenv("BENCH_THREADS"))
  for line in io.lines(os.getenv("BENCH_REFRESH_FILE")) do
    if n % threads_total == index then
      tail = tail + 1
      queue[tail] = line
    end
    n = n + 1
  end
end

function request()
  if head > tail then
    return wrk.format("GET", "/health/alive")
  end
  local token = queue[head]
  queue[head] = nil
  head = head + 1
  return wrk.format("POST", token_path, {
    ["Authorization"] = os.getenv("BENCH_BASIC"),
    ["Content-Type"] = "application/x-www-form-urlencoded",
  }, "grant_type=refresh_token&refresh_token=" .. token)
end

function response(status, headers, body)
  local token = body:match('"refresh_token":"([^"]+)"')
  if status == 200 and token then
    tail = tail + 1
    queue[tail] = token
    done_ops = done_ops + 1
  end
end
