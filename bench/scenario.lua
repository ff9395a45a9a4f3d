-- wrk scenario driven by env: SCENARIO = health | hit | miss | batch256 | review_miss | review_hit | review_miss_c1
local scenario = os.getenv("SCENARIO") or "health"
local counter, tid = 0, 0
local threads = {}

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  tid = tonumber(wrk.thread:get("tid")) or 0
  math.randomseed(os.time() + tid * 7919)
end

local syllables = {"ka", "to", "mi", "ra", "no", "vi", "ch", "sk", "ov", "er", "an", "el", "ba", "zu", "lo", "de"}
local chars = {"肌", "萎", "缩", "手", "内", "炎", "性", "慢", "急", "胃", "肠", "病", "肾", "血", "压", "痛"}
-- A fresh string of n pieces from a 16-entry alphabet: unique per request, so every one misses the cache.
local function fresh(alphabet, n)
  counter = counter + 1
  local s, x = "", counter * 97 + tid * 1000003 + math.random(1, 1000000) * 131
  for _ = 1, n do s = s .. alphabet[(x % 16) + 1]; x = math.floor(x / 16) end
  return s
end
local function name() return fresh(syllables, 4) .. tostring(counter) end
local function entity() return fresh(chars, 6) end

function request()
  local post = function(path, body)
    return wrk.format("POST", path, {["Content-Type"] = "application/json"}, body)
  end
  if scenario == "health" then return wrk.format("GET", "/health") end
  if scenario == "hit" then return post("/classify", '{"name": "Nakamura"}') end
  if scenario == "miss" then return post("/classify", '{"name": "' .. name() .. '"}') end
  if scenario == "batch256" then
    local names = {}
    for i = 1, 256 do names[i] = '"' .. name() .. '"' end
    return post("/classify", '{"names": [' .. table.concat(names, ",") .. ']}')
  end
  if scenario == "review_hit" then return post("/review-entity", '{"text": "手内肌萎缩"}') end
  if scenario == "review_miss" or scenario == "review_miss_c1" then return post("/review-entity", '{"text": "' .. entity() .. '"}') end
end

function done(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.status + summary.errors.timeout
  io.write(string.format('RESULT {"requests": %d, "seconds": %.3f, "rps": %.1f, "p50_ms": %.3f, "p95_ms": %.3f, "p99_ms": %.3f, "errors": %d}\n',
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000, errors))
end
