-- The body of a scan step; `scan_step!` in cache.rs puts a header defining
-- `take` before it and documents the arguments.

-- Redis 7.2 and later (and Valkey) answer TIME with the script's start for
-- its whole run; Redis 7.4 and Valkey 8 offer os.clock (the server's CPU
-- time) instead. Redis 7.0 to 7.3 and Valkey 7.2 have no `os`, and reading a
-- missing global is an error in every version, hence rawget.
local clock = rawget(_G, 'os') and os.clock
local function now()
  if clock then return clock() * 1000000 end
  local t = redis.call('TIME') return t[1] * 1000000 + t[2]
end

-- Lua's numbers are doubles, so the cursor's low bits come from its digits.
local bits, chain = tonumber(ARGV[5]), tonumber(ARGV[6])
local function owner(c)
  local low, r = 0, 0
  for i = 1, #c do low = (low * 10 + string.byte(c, i) - 48) % (2 ^ bits) end
  for _ = 1, bits do r = r * 2 + low % 2 low = math.floor(low / 2) end
  return r
end

-- Checked here, so a mistake in the arguments fails on every server, not
-- only on those whose clock stands still.
local wall, still, cpu = assert(tonumber(ARGV[3])), assert(tonumber(ARGV[7])), assert(tonumber(ARGV[8]))
local budget = clock and cpu or wall
local started, cursor, found, calls = now(), ARGV[1], {}, 0
repeat
  local r = redis.call('SCAN', cursor, 'MATCH', ARGV[2], 'COUNT', ARGV[4])
  cursor, calls = r[1], calls + 1
  for _, k in ipairs(r[2]) do if take(k) then found[#found + 1] = k end end
  local spent = now() - started
  -- A clock that stands still (or was set back) leaves only the count of
  -- calls to end the step.
until cursor == '0' or owner(cursor) ~= chain or spent >= budget or (spent <= 0 and calls >= still)
return {cursor, found}
