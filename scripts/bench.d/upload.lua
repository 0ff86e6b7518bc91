-- wrk script for the upload benchmarks: POST a multipart upload to /v1/chat/file.
-- Reads its inputs from the environment (set by scripts/bench):
--   BENCH_BODY_FILE  the multipart body, BENCH_BOUNDARY its boundary, BENCH_TOKEN the access token.
--   BENCH_ACCOUNTS   optional: a file of "TOKEN CONVERSATION_ID" lines. The requests then
--                    take turns among these people, each into their own conversation (the
--                    body's conversation id, BENCH_CONVERSATION, replaced by theirs).
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

local accounts = os.getenv("BENCH_ACCOUNTS")
if accounts ~= nil and accounts ~= "" then
  local template = need("BENCH_CONVERSATION")
  local requests = {}
  for line in io.lines(accounts) do
    local token, conversation = line:match("^(%S+)%s+(%S+)$")
    if token then
      local headers = {
        ["Content-Type"] = wrk.headers["Content-Type"],
        ["Authorization"] = "Bearer " .. token,
      }
      -- Plain find and replace: the id is the same length, and has no pattern characters.
      local first, last = body:find(template, 1, true)
      assert(first, "BENCH_CONVERSATION is not in the body")
      local own = body:sub(1, first - 1) .. conversation .. body:sub(last + 1)
      requests[#requests + 1] = wrk.format("POST", nil, headers, own)
    end
  end
  assert(#requests > 0, "BENCH_ACCOUNTS has no accounts")
  local turn = 0
  request = function()
    turn = turn % #requests + 1
    return requests[turn]
  end
end
