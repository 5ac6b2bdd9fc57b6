-- Password sign-ins on the sign-in page: POST /login with the session's CSRF token;
-- each success answers 303. Bound by argon2id.
dofile(os.getenv("BENCH_DIR") .. "/report.lua")
wrk.method = "POST"
wrk.path = "/login"
wrk.headers["Cookie"] = os.getenv("BENCH_LOGIN_COOKIE")
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.body = "csrf_token=" .. os.getenv("BENCH_LOGIN_CSRF") .. "&username=" .. os.getenv("BENCH_USER") .. "&password=" .. os.getenv("BENCH_PASSWORD")
done_ops = 0

function response(status, headers, body)
  if status == 303 then done_ops = done_ops + 1 end
end
