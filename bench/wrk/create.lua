-- POST /api/customers: a new customer per request (unique id, email and phone), with one address.
local token = os.getenv("BENCH_TOKEN")
local path = os.getenv("BENCH_PATH") or "/api/customers"
local run = tonumber(os.getenv("BENCH_RUN") or "0")
-- "new" for the service, "floor" for the floor: their customers never collide.
local prefix = os.getenv("BENCH_PREFIX") or "new"
wrk.headers["Authorization"] = "Bearer " .. token
wrk.headers["Content-Type"] = "application/json"

local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end

local counter = 0
function request()
  counter = counter + 1
  local ref = string.format("%s-%d-%d-%d", prefix, run, tid, counter)
  -- A valid Ottawa number, unique per (run, thread, counter) while counter < 10^5.
  local n = (run * 40 + tid * 10) * 10000 + counter
  local phone = string.format("+1 613 %03d %04d", 200 + math.floor(n / 10000) % 800, n % 10000)
  local body = string.format(
    '{"id":"%s","email":"%s@bench.example","phone":"%s","first_name":"Ann","last_name":"Bench",' ..
    '"accepts_marketing":true,"marketing_opt_in_level":"single_opt_in","tags":"vip, newsletter",' ..
    '"addresses":[{"address1":"1 Main St","city":"Ottawa","province_code":"ON","country_code":"CA",' ..
    '"zip":"K1A 0B1"}]}', ref, ref, phone)
  return wrk.format("POST", path, nil, body)
end
