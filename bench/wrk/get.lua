-- GET a random seeded customer (c-1 .. c-N) under BENCH_PATH; with BENCH_TOKEN as bearer token.
local count = tonumber(os.getenv("BENCH_CUSTOMERS"))
local prefix = os.getenv("BENCH_PATH")
local token = os.getenv("BENCH_TOKEN")
-- An app server reached directly, without the TLS proxy that would set it (bench/cluster.py).
local forwarded = os.getenv("BENCH_FORWARDED_PROTO")
if forwarded and forwarded ~= "" then
  wrk.headers["X-Forwarded-Proto"] = forwarded
end
if token and token ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. token
end

local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end

function init(args)
  math.randomseed(os.time() * 100 + tid)
end

function request()
  return wrk.format("GET", prefix .. "c-" .. math.random(1, count))
end
