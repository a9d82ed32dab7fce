-- trackd: take one request slot of a carrier quota for the whole fleet.
--
-- Every window of the carrier is checked in one atomic step, on the Redis
-- server's clock, so no two instances can both take the last slot and no
-- instance's clock skew matters. Each window is a GCRA: its key holds the
-- theoretical arrival time (TAT, microseconds) of the next request.
--
-- KEYS[1]  born marker: absent when Redis lost its data (restart, flush)
-- KEYS[2]  pause: the time until which a 429 told every instance to wait
-- KEYS[3..] one per window, in the order of the ARGV pairs
-- ARGV[1]  intervals beyond the burst the caller may have sent unseen (it
--          paced locally since it last reached Redis), else 0
-- ARGV[2k], ARGV[2k+1]  interval and tolerance (burst - 1 intervals) of window k, microseconds
--
-- Returns {1, 0, 0} when the slot is taken, {0, wait_us, k} when window k
-- (0: the pause) has no slot for wait_us microseconds. A refusal writes only
-- floors, so a caller may ask again after waiting.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local function str(n) return string.format('%.0f', n) end

local pause = tonumber(redis.call('GET', KEYS[2]) or '0')
if pause > now then
  return {0, pause - now, 0}
end

-- A window whose history may be unknown counts its burst as just spent: after
-- Redis lost its data, or when this caller sent requests that Redis never saw.
local fresh = redis.call('EXISTS', KEYS[1]) == 0
local unseen = tonumber(ARGV[1])
local floor_all = fresh or unseen > 0

local n = #KEYS - 2
local tats = {}
local wait, which = 0, 0
for k = 1, n do
  local interval = tonumber(ARGV[2 * k])
  local tolerance = tonumber(ARGV[2 * k + 1])
  local tat = tonumber(redis.call('GET', KEYS[k + 2]) or '0')
  local floor = now + tolerance + unseen * interval
  if floor_all and tat < floor then
    tat = floor
    -- Kept even if the request is refused below: the floor applies once.
    redis.call('SET', KEYS[k + 2], str(tat), 'PX', math.floor((tat - now) / 1000) + 1000)
  end
  if tat < now then tat = now end
  local allowed_at = tat - tolerance
  if allowed_at > now and allowed_at - now > wait then
    wait, which = allowed_at - now, k
  end
  tats[k] = tat + interval
end
if fresh then
  redis.call('SET', KEYS[1], str(now))
end
if wait > 0 then
  return {0, wait, which}
end
for k = 1, n do
  redis.call('SET', KEYS[k + 2], str(tats[k]), 'PX', math.floor((tats[k] - now) / 1000) + 1000)
end
return {1, 0, 0}
