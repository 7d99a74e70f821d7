-- The operator queue's operations, each one atomic call (EVALSHA) and one round trip.
--
-- KEYS (routing/keys.py `queue_keys()`), the same for every operation:
--   1 order     hash  id -> order key          7 sla_warned   zset id -> deadline
--   2 entries   hash  id -> JSON details       8 sla_overdue  zset id -> deadline
--   3 waiting   zset  order keys, score 0      9 sla_marks    hash id -> "w" | "b"
--   4 assigned  zset  id -> operator id       10 presence     hash op -> JSON
--   5 leases    zset  id -> lease expiry      11 seen         zset op -> last seen
--   6 sla_pending zset id -> deadline         12 cursor       hash group -> last op
-- ARGV[1] names the operation; the rest are its arguments.
--
-- An order key is `group|LP|deadline|arrival|id` (fixed-width digits, times in µs): lane L
-- is 0 for the head of the group (expired leases, requeue to head) and 1 otherwise, P is
-- the priority class. With every score 0 the set sorts by the key, which is take order,
-- and a group is the lexicographic range [group| .. (group}.
-- Times are passed in as decimal strings and never computed on here (doubles print badly).
-- Operations check first and write after: a refusal changes nothing.

local K_ORDER, K_ENTRIES, K_WAITING = KEYS[1], KEYS[2], KEYS[3]
local K_ASSIGNED, K_LEASES = KEYS[4], KEYS[5]
local K_PENDING, K_WARNED, K_OVERDUE, K_MARKS = KEYS[6], KEYS[7], KEYS[8], KEYS[9]
local K_PRESENCE, K_SEEN, K_CURSOR = KEYS[10], KEYS[11], KEYS[12]

local function group_of(key)
  return string.match(key, '^(.-)|')
end

local function deadline_of(key)
  return string.match(key, '^.-|%d%d|(%d+)|')
end

local function id_of(key)
  return tostring(tonumber(string.match(key, '|(%d+)$')))
end

local function with_lane(key, lane)
  local group, rest = string.match(key, '^(.-)|%d(.*)$')
  return group .. '|' .. lane .. rest
end

local function with_group(key, group)
  return group .. string.match(key, '^.-(|.*)$')
end

-- a group's order keys are the lexicographic range [group| .. (group}
local function range_of(group)
  return '[' .. group .. '|', '(' .. group .. '}'
end

local function first_of(group, n)
  local low, high = range_of(group)
  return redis.call('ZRANGEBYLEX', K_WAITING, low, high, 'LIMIT', 0, n)
end

local function head_of(group)
  return first_of(group, 1)[1]
end

-- the groups with someone waiting: jump from one group's range to the next, O(groups log n)
local function groups_waiting()
  local groups = {}
  local key = redis.call('ZRANGE', K_WAITING, 0, 0)[1]
  while key do
    local group = group_of(key)
    groups[#groups + 1] = group
    local _, high = range_of(group)
    key = redis.call('ZRANGEBYLEX', K_WAITING, high, '+', 'LIMIT', 0, 1)[1]
  end
  return groups
end

local function holder_of(id)
  local score = redis.call('ZSCORE', K_ASSIGNED, id)
  if score then return tonumber(score) end
  return nil
end

local function load_of(op)
  return redis.call('ZCOUNT', K_ASSIGNED, op, op)
end

local function is_waiting(key)
  return redis.call('ZSCORE', K_WAITING, key) ~= false
end

-- SLA tracking follows the waiting state; the mark remembers what was already reported.
local function sla_track(id, key)
  local mark = redis.call('HGET', K_MARKS, id)
  local target = K_PENDING
  if mark == 'w' then target = K_WARNED elseif mark == 'b' then target = K_OVERDUE end
  redis.call('ZADD', target, deadline_of(key), id)
end

local function sla_untrack(id)
  redis.call('ZREM', K_PENDING, id)
  redis.call('ZREM', K_WARNED, id)
  redis.call('ZREM', K_OVERDUE, id)
end

local function put_waiting(id, key)
  redis.call('ZADD', K_WAITING, 0, key)
  redis.call('HSET', K_ORDER, id, key)
  sla_track(id, key)
end

local function unwait(id, key)
  redis.call('ZREM', K_WAITING, key)
  sla_untrack(id)
end

local function assign(id, op, lease_until)
  redis.call('ZADD', K_ASSIGNED, op, id)
  redis.call('ZADD', K_LEASES, lease_until, id)
end

local function unassign(id)
  redis.call('ZREM', K_ASSIGNED, id)
  redis.call('ZREM', K_LEASES, id)
end

local function entry(id, key)
  return {id, key, redis.call('HGET', K_ENTRIES, id) or '{}'}
end

local function presence_of(op)
  local raw = redis.call('HGET', K_PRESENCE, op)
  if raw then return cjson.decode(raw) end
  return nil
end

local function serves(info, group)
  for _, g in ipairs(info.groups or {}) do
    if g == group then return true end
  end
  return false
end

local ops = {}

-- enqueue(id, key, details) -> 1 added | 0 already live (details refreshed, place kept)
function ops.enqueue(id, key, details)
  redis.call('HSET', K_ENTRIES, id, details)
  if redis.call('HEXISTS', K_ORDER, id) == 1 then return 0 end
  put_waiting(id, key)
  return 1
end

-- take_next(op, capacity, lease_until, group...)
--   -> {"ok", id, key, details} | {"full"} | {"empty"}
function ops.take_next(op, capacity, lease_until, ...)
  if load_of(op) >= tonumber(capacity) then return {'full'} end
  local best, best_rank
  for _, group in ipairs({...}) do
    local key = head_of(group)
    if key then
      local rank = string.sub(key, #group + 2)
      if best == nil or rank < best_rank then best, best_rank = key, rank end
    end
  end
  if best == nil then return {'empty'} end
  local id = id_of(best)
  unwait(id, best)
  assign(id, op, lease_until)
  return {'ok', unpack(entry(id, best))}
end

-- take(id, op, capacity, lease_until) -> {"ok", ...} | {"taken", holder} | {"full"} | {"missing"}
function ops.take(id, op, capacity, lease_until)
  local key = redis.call('HGET', K_ORDER, id)
  if not key then return {'missing'} end
  local holder = holder_of(id)
  if holder == tonumber(op) then
    redis.call('ZADD', K_LEASES, lease_until, id)
    return {'ok', unpack(entry(id, key))}
  end
  if holder then return {'taken', holder} end
  if load_of(op) >= tonumber(capacity) then return {'full'} end
  unwait(id, key)
  assign(id, op, lease_until)
  return {'ok', unpack(entry(id, key))}
end

-- requeue(id, lane) -> {"ok", ...} | {"missing"}: back to waiting, at the head (lane 0) or by order
function ops.requeue(id, lane)
  local key = redis.call('HGET', K_ORDER, id)
  if not key then return {'missing'} end
  if is_waiting(key) then unwait(id, key) end
  unassign(id)
  key = with_lane(key, lane)
  put_waiting(id, key)
  return {'ok', unpack(entry(id, key))}
end

-- transfer(id, group, op, lease_until) with group and/or op ('' = keep)
--   -> {"ok", ...} | {"missing"} | {"offline"} | {"full", capacity}
function ops.transfer(id, group, op, lease_until)
  local key = redis.call('HGET', K_ORDER, id)
  if not key then return {'missing'} end
  local holder = holder_of(id)
  if op ~= '' and holder ~= tonumber(op) then
    local info = presence_of(op)
    if info then
      if info.state == 'offline' then return {'offline'} end
      if load_of(op) >= tonumber(info.capacity) then return {'full', info.capacity} end
    end
  end
  if is_waiting(key) then unwait(id, key) end
  if group ~= '' then key = with_lane(with_group(key, group), '1') end
  if op ~= '' then
    redis.call('HSET', K_ORDER, id, key)
    assign(id, op, lease_until)
  else
    unassign(id)
    put_waiting(id, key)
  end
  return {'ok', unpack(entry(id, key))}
end

-- remove(id) -> 1 removed | 0 was not live
function ops.remove(id)
  local key = redis.call('HGET', K_ORDER, id)
  if not key then return 0 end
  redis.call('ZREM', K_WAITING, key)
  unassign(id)
  sla_untrack(id)
  redis.call('HDEL', K_ORDER, id)
  redis.call('HDEL', K_ENTRIES, id)
  redis.call('HDEL', K_MARKS, id)
  return 1
end

-- renew(id, op, now, lease_until) -> {"ok"} | {"missing"} | {"waiting"} | {"taken", holder}
function ops.renew(id, op, now, lease_until)
  if redis.call('HEXISTS', K_ORDER, id) == 0 then return {'missing'} end
  local holder = holder_of(id)
  if holder == nil then return {'waiting'} end
  if holder ~= tonumber(op) then return {'taken', holder} end
  redis.call('ZADD', K_LEASES, lease_until, id)
  redis.call('ZADD', K_SEEN, now, op)
  return {'ok'}
end

-- heartbeat(op, now, lease_until) -> number of leases renewed
function ops.heartbeat(op, now, lease_until)
  redis.call('ZADD', K_SEEN, now, op)
  local ids = redis.call('ZRANGEBYSCORE', K_ASSIGNED, op, op)
  for _, id in ipairs(ids) do redis.call('ZADD', K_LEASES, lease_until, id) end
  return #ids
end

-- reclaim(now, limit) -> flat {id, key, details, holder}...: expired leases back to the head
function ops.reclaim(now, limit)
  local out = {}
  local ids = redis.call('ZRANGEBYSCORE', K_LEASES, '-inf', now, 'LIMIT', 0, tonumber(limit))
  for _, id in ipairs(ids) do
    local holder = holder_of(id)
    local key = redis.call('HGET', K_ORDER, id)
    unassign(id)
    if key then
      key = with_lane(key, '0')
      put_waiting(id, key)
      for _, v in ipairs(entry(id, key)) do out[#out + 1] = v end
      out[#out + 1] = holder or -1
    end
  end
  return out
end

-- sla_scan(now, warn_until, limit) -> flat {kind, id, key, details}...; kind "w" or "b".
-- Each conversation is reported once per kind: the mark outlives requeues.
function ops.sla_scan(now, warn_until, limit)
  local out = {}
  local function report(kind, id)
    local key = redis.call('HGET', K_ORDER, id)
    out[#out + 1] = kind
    for _, v in ipairs(entry(id, key)) do out[#out + 1] = v end
  end
  local function breach(id, deadline)
    redis.call('HSET', K_MARKS, id, 'b')
    redis.call('ZADD', K_OVERDUE, deadline, id)
    report('b', id)
  end
  local n = tonumber(limit)
  local late = redis.call('ZRANGEBYSCORE', K_WARNED, '-inf', now, 'WITHSCORES', 'LIMIT', 0, n)
  for i = 1, #late, 2 do
    redis.call('ZREM', K_WARNED, late[i])
    breach(late[i], late[i + 1])
  end
  local soon = redis.call('ZRANGEBYSCORE', K_PENDING, '-inf', warn_until, 'WITHSCORES',
                          'LIMIT', 0, n)
  for i = 1, #soon, 2 do
    local id, deadline = soon[i], soon[i + 1]
    redis.call('ZREM', K_PENDING, id)
    if tonumber(deadline) <= tonumber(now) then
      breach(id, deadline)
    else
      redis.call('HSET', K_MARKS, id, 'w')
      redis.call('ZADD', K_WARNED, deadline, id)
      report('w', id)
    end
  end
  return out
end

-- dispatch(group, lease_until, limit, stale_before, [id, key, details])
--   -> {created (1, 0, or -1 when no entry was given), {id, key, details, op}...}
-- Optionally enqueues one entry, then pushes the group's head conversations to online
-- operators of the group: most free capacity first, round-robin (by id) among equals.
function ops.dispatch(group, lease_until, limit, stale_before, id, key, details)
  local created = -1
  if id then created = ops.enqueue(id, key, details) end
  local free, order = {}, {}
  local all = redis.call('HGETALL', K_PRESENCE)
  for i = 1, #all, 2 do
    local op, info = all[i], cjson.decode(all[i + 1])
    local fresh = true
    if stale_before ~= '' then
      local seen = redis.call('ZSCORE', K_SEEN, op)
      fresh = seen and tonumber(seen) >= tonumber(stale_before)
    end
    if info.state == 'online' and fresh and serves(info, group) then
      local n = tonumber(info.capacity) - load_of(op)
      if n > 0 then
        free[op] = n
        order[#order + 1] = tonumber(op)
      end
    end
  end
  table.sort(order)
  local out = {created}
  local cursor = tonumber(redis.call('HGET', K_CURSOR, group) or '-1')
  for _ = 1, tonumber(limit) do
    local best, best_free = nil, 0
    for _, op in ipairs(order) do
      local n = free[tostring(op)]
      -- equals: the first id after the cursor wins, wrapping round to the smallest
      if n > best_free or (n == best_free and n > 0 and best <= cursor and op > cursor) then
        best, best_free = op, n
      end
    end
    if best == nil then break end
    local head = head_of(group)
    if head == nil then break end
    local head_id = id_of(head)
    unwait(head_id, head)
    assign(head_id, best, lease_until)
    free[tostring(best)] = best_free - 1
    cursor = best
    redis.call('HSET', K_CURSOR, group, best)
    local row = entry(head_id, head)
    row[#row + 1] = best
    out[#out + 1] = row
  end
  return out
end

-- restore(id, key, details, holder, lease_until, mark): make Redis agree with the database.
-- A conversation already waiting in the same group keeps its place (and lane).
function ops.restore(id, key, details, holder, lease_until, mark)
  redis.call('HSET', K_ENTRIES, id, details)
  if mark ~= '' and redis.call('HGET', K_MARKS, id) ~= 'b' then
    redis.call('HSET', K_MARKS, id, mark)
  end
  local current = redis.call('HGET', K_ORDER, id)
  if current and is_waiting(current) then
    if holder == '' and group_of(current) == group_of(key) then
      unwait(id, current)
      put_waiting(id, current)
      return 'kept'
    end
    unwait(id, current)
  end
  if holder == '' then
    unassign(id)
    put_waiting(id, key)
    return 'waiting'
  end
  redis.call('HSET', K_ORDER, id, key)
  redis.call('ZADD', K_ASSIGNED, holder, id)
  redis.call('ZADD', K_LEASES, 'NX', lease_until, id)
  return 'assigned'
end

-- find(id) -> {key, details, holder or -1, position or -1} | {}
function ops.find(id)
  local key = redis.call('HGET', K_ORDER, id)
  if not key then return {} end
  local position = -1
  if is_waiting(key) then
    local low = range_of(group_of(key))
    position = redis.call('ZLEXCOUNT', K_WAITING, low, '[' .. key)
  end
  return {key, redis.call('HGET', K_ENTRIES, id) or '{}', holder_of(id) or -1, position}
end

-- peek(group, limit) -> flat {id, key, details}...: the first `limit` waiting of the group,
-- or of every group when group is '' (the caller merges groups into take order)
function ops.peek(group, limit)
  local groups = {group}
  if group == '' then groups = groups_waiting() end
  local out = {}
  for _, g in ipairs(groups) do
    for _, key in ipairs(first_of(g, tonumber(limit))) do
      for _, v in ipairs(entry(id_of(key), key)) do out[#out + 1] = v end
    end
  end
  return out
end

-- breaching(due, limit) -> flat {id, key, details}...: waiting conversations due by `due`
-- (already overdue included), at most `limit` from each SLA state
function ops.breaching(due, limit)
  local out = {}
  for _, states in ipairs({K_OVERDUE, K_WARNED, K_PENDING}) do
    local ids = redis.call('ZRANGEBYSCORE', states, '-inf', due, 'LIMIT', 0, tonumber(limit))
    for _, id in ipairs(ids) do
      local key = redis.call('HGET', K_ORDER, id)
      if key then
        for _, v in ipairs(entry(id, key)) do out[#out + 1] = v end
      end
    end
  end
  return out
end

-- figures(soon) -> {{group, waiting}..., assigned, overdue, breaching_soon}
function ops.figures(soon)
  local groups = {}
  for _, g in ipairs(groups_waiting()) do
    groups[#groups + 1] = g
    groups[#groups + 1] = redis.call('ZLEXCOUNT', K_WAITING, range_of(g))
  end
  local breaching = redis.call('ZCOUNT', K_PENDING, '-inf', soon)
                  + redis.call('ZCOUNT', K_WARNED, '-inf', soon)
  return {groups, redis.call('ZCARD', K_ASSIGNED), redis.call('ZCARD', K_OVERDUE), breaching}
end

local operation = ops[ARGV[1]]
if operation == nil then
  return redis.error_reply('unknown queue operation ' .. tostring(ARGV[1]))
end
return operation(unpack(ARGV, 2))
