-- Introspection of tokens drawn at random from BENCH_TOKENS_FILE (one per line), by the
-- client they were issued to: how lookups cost as the number of stored tokens grows.
dofile(os.getenv("BENCH_DIR") .. "/report.lua")
local tokens = {}

function init(args)
  for line in io.lines(os.getenv("BENCH_TOKENS_FILE")) do
    tokens[#tokens + 1] = line
  end
  math.randomseed(os.time() + #tokens)
end

function request()
  return wrk.format("POST", "/oauth2/introspect", {
    ["Authorization"] = os.getenv("BENCH_BASIC"),
    ["Content-Type"] = "application/x-www-form-urlencoded",
  }, "token=" .. tokens[math.random(#tokens)])
end
