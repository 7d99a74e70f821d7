-- Reserve the earliest send slot allowed by a chat's bucket and the bot-wide bucket (GCRA),
-- on Redis's clock so that every gateway process shares one schedule.
-- KEYS[1] the chat's bucket, KEYS[2] the bot-wide bucket (each holds its next theoretical
-- arrival time, in ms). ARGV: chat interval ms, chat tolerance ms, bot interval ms, bot
-- tolerance ms. Returns the wait before the slot, in microseconds.
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + tonumber(clock[2]) / 1000
local chat_interval, chat_tolerance = tonumber(ARGV[1]), tonumber(ARGV[2])
local bot_interval, bot_tolerance = tonumber(ARGV[3]), tonumber(ARGV[4])

local function reserve(key, earliest, interval, tolerance)
  local tat = math.max(tonumber(redis.call('GET', key) or '0'), earliest)
  local slot = math.max(earliest, tat - tolerance)
  local next_tat = tat + interval
  redis.call('SET', key, string.format('%.3f', next_tat), 'PX',
             math.max(1, math.ceil(next_tat - now + tolerance)))
  return slot
end

local slot = reserve(KEYS[2], reserve(KEYS[1], now, chat_interval, chat_tolerance),
                     bot_interval, bot_tolerance)
return math.floor((slot - now) * 1000)
