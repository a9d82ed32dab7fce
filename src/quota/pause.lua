-- trackd: a carrier answered 429; every instance waits until the pause ends.
-- KEYS[1] pause key; ARGV[1] pause length, microseconds. Never shortens a pause.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local until_us = now + tonumber(ARGV[1])
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
if until_us > cur then
  redis.call('SET', KEYS[1], string.format('%.0f', until_us), 'PX', math.floor(tonumber(ARGV[1]) / 1000) + 1000)
end
return 1
