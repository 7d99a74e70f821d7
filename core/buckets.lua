-- Token buckets, all or nothing: take `cost` tokens from every bucket in KEYS, or from none.
-- ARGV: cost, then for each key its capacity and refill rate (tokens per second).
-- Returns 0 when taken, else the milliseconds until every bucket holds `cost` tokens.
-- Time is the server's, so several gateway processes share one clock.
if redis.replicate_commands then pcall(redis.replicate_commands) end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local cost = tonumber(ARGV[1])
local levels = {}
local wait = 0
for i, key in ipairs(KEYS) do
  local capacity = tonumber(ARGV[2 * i])
  local rate = tonumber(ARGV[2 * i + 1]) / 1000
  local stored = redis.call('HMGET', key, 'tokens', 'at')
  local tokens = tonumber(stored[1]) or capacity
  local at = tonumber(stored[2]) or now
  tokens = math.min(capacity, tokens + math.max(0, now - at) * rate)
  levels[i] = tokens
  if tokens < cost then
    wait = math.max(wait, math.ceil((cost - tokens) / rate))
  end
end
if wait > 0 then return wait end
for i, key in ipairs(KEYS) do
  local capacity = tonumber(ARGV[2 * i])
  local rate = tonumber(ARGV[2 * i + 1]) / 1000
  local left = levels[i] - cost
  redis.call('HSET', key, 'tokens', tostring(left), 'at', now)
  redis.call('PEXPIRE', key, math.ceil((capacity - left) / rate) + 1000)
end
return 0
