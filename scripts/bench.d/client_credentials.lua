-- client_credentials tokens: BENCH_BASIC is "Basic base64(id:secret)".
dofile(os.getenv("BENCH_DIR") .. "/report.lua")
wrk.method = "POST"
wrk.path = os.getenv("BENCH_TOKEN_PATH") or "/oauth2/token"
wrk.headers["Authorization"] = os.getenv("BENCH_BASIC")
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.body = os.getenv("BENCH_CC_BODY") or "grant_type=client_credentials"
