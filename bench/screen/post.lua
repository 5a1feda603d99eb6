-- wrk script for bench/screen/run.sh: POST /v1/screen with prepared bodies, in turn.
--
-- 65,536 calls from as many presented numbers to as many callees (so the velocity table tracks
-- many numbers), from 1,024 source addresses (peers and customers); one call in twenty presents
-- a Do-Not-Originate number on an international ingress (blocked: dno, uk-cli-international).
-- Requests are formatted once, in init: wrk's own cost per request stays that of sending bytes.

local requests = {}
local n = 0
local threads = 0

-- setup runs in the main Lua state, once per thread: number the threads.
function setup(thread)
  thread:set("id", threads)
  threads = threads + 1
end

function init(args)
  local headers = { ["Content-Type"] = "application/json" }
  for i = 0, 65535 do
    local from = string.format("+4474001%05d", (i * 7919) % 100000)
    local ingress = "domestic"
    if i % 20 == 0 then
      from, ingress = "+443005551234", "international"
    end
    local body = string.format(
      '{"from":"%s","to":"+4474009%05d","ingress":"%s","source_ip":"10.1.%d.%d","trunk":"peer-%d","call_id":"bench-%d"}',
      from, i % 100000, ingress, math.floor(i / 4) % 256, (i % 4) * 64, i % 8, i)
    requests[i + 1] = wrk.format("POST", "/v1/screen", headers, body)
  end
  -- Each thread starts at its own place in the list.
  n = (id or 0) * 16411
end

function request()
  n = n + 1
  return requests[(n % 65536) + 1]
end
