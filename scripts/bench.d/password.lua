-- Password sign-ins on the sign-in page: POST /login with the session's CSRF token;
-- each success answers 303. Bound by argon2id. The sign-ins go round the accounts
-- signer-1 .. signer-N, so that none has more than a few attempts in flight (the sign-in
-- throttle refuses more, as it should for one person).
dofile(os.getenv("BENCH_DIR") .. "/report.lua")
local accounts = tonumber(os.getenv("BENCH_SIGN_IN_ACCOUNTS") or "1")
local prefix = "csrf_token=" .. os.getenv("BENCH_LOGIN_CSRF") .. "&password=" .. os.getenv("BENCH_PASSWORD") .. "&username="
local headers = {
  ["Cookie"] = os.getenv("BENCH_LOGIN_COOKIE"),
  ["Content-Type"] = "application/x-www-form-urlencoded",
}
local next_account = 0
done_ops = 0

function init(args)
  -- Threads start at different accounts.
  next_account = math.random(accounts) - 1
end

function request()
  next_account = next_account % accounts + 1
  return wrk.format("POST", "/login", headers, prefix .. "signer-" .. next_account)
end

function response(status, headers, body)
  if status == 303 then done_ops = done_ops + 1 end
end
