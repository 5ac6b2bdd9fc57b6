-- The authorization code flow with an existing session and remembered consent:
-- GET /oauth2/auth (session cookie) -> 303 with a code -> POST /oauth2/token, which
-- answers with an ID token. One operation is one completed exchange.
dofile(os.getenv("BENCH_DIR") .. "/report.lua")
local token_path = os.getenv("BENCH_TOKEN_PATH") or "/oauth2/token"
local codes = {}
done_ops = 0
local authorize = os.getenv("BENCH_AUTHORIZE_PATH")

function request()
  local code = table.remove(codes)
  if code then
    return wrk.format("POST", token_path, {
      ["Authorization"] = os.getenv("BENCH_BASIC"),
      ["Content-Type"] = "application/x-www-form-urlencoded",
    }, "grant_type=authorization_code&code=" .. code .. "&redirect_uri=" .. os.getenv("BENCH_REDIRECT_ENC"))
  end
  return wrk.format("GET", authorize, { ["Cookie"] = os.getenv("BENCH_COOKIE") })
end

function response(status, headers, body)
  if status == 303 or status == 302 then
    local location = headers["Location"] or headers["location"] or ""
    local code = location:match("[?&]code=([^&]+)")
    if code then table.insert(codes, code) end
  elseif status == 200 and body:find('"id_token"', 1, true) then
    done_ops = done_ops + 1
  end
end
