-- wrk script for benchmark 3: POST a multipart upload to /v1/chat/file.
-- Reads its inputs from the environment (set by scripts/bench):
--   BENCH_BODY_FILE  the multipart body, BENCH_BOUNDARY its boundary, BENCH_TOKEN the access token.
local function need(name)
  local value = os.getenv(name)
  if value == nil or value == "" then error(name .. " is not set") end
  return value
end

local file = assert(io.open(need("BENCH_BODY_FILE"), "rb"))
local body = file:read("*a")
file:close()

wrk.method = "POST"
wrk.body = body
wrk.headers["Content-Type"] = "multipart/form-data; boundary=" .. need("BENCH_BOUNDARY")
wrk.headers["Authorization"] = "Bearer " .. need("BENCH_TOKEN")
