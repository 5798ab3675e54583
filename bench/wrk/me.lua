-- GET BENCH_PATH (/api/me, or the floor's) with BENCH_TOKEN, a customer token, as bearer token.
local path = os.getenv("BENCH_PATH")
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")

function request()
  return wrk.format("GET", path)
end
