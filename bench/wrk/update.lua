-- PUT /api/customers: change the note and tags of a random seeded customer (a real write each time).
local count = tonumber(os.getenv("BENCH_CUSTOMERS"))
local token = os.getenv("BENCH_TOKEN")
local path = os.getenv("BENCH_PATH") or "/api/customers"
wrk.headers["Authorization"] = "Bearer " .. token
wrk.headers["Content-Type"] = "application/json"

local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end

function init(args)
  math.randomseed(os.time() * 100 + tid)
end

local counter = 0
function request()
  counter = counter + 1
  local body = string.format('{"id":"c-%d","note":"bench %d-%d","tags":"vip, bench %d"}',
    math.random(1, count), tid, counter, counter % 7)
  return wrk.format("PUT", path, nil, body)
end
