-- Extend the lease KEYS[1] by ARGV[2] ms if ARGV[1] still holds it. Returns 1 or 0.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
