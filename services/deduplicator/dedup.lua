-- Decide what one article is, and remember it, in one atomic step.
--
-- Every worker runs this script, so "look up, decide, claim" can never
-- interleave between two workers: of two copies arriving at the same moment,
-- exactly one is first.
--
-- State (all under the dedup prefix) is kept in small hashes, one per
-- (kind, generation, bucket), so Redis stores them as compact listpacks:
--   r<gen>:<bucket>  field = 4 bytes of the article ref -> article record
--   g<gen>:<bucket>  field = 4 bytes of hash(feed, guid) -> article ref
--   b<gen>:<bucket>  field = 3 bytes of an LSH band key  -> article ref
--   n<gen>           number of keys created in that generation (for the gauge)
-- A generation lasts one window; its keys expire one window after the
-- generation ends, and lookups read the NGENS (2) newest generations, newest
-- first, so an entry is remembered for one to two windows.
-- Refs and keys are 6-byte binary digests: bytes 1-2 pick the bucket, 3-6 are
-- the field (3-5 for band keys: a false band match only costs a sketch check).
--
-- Article record (64 bytes, the largest value a listpack hash keeps):
-- kind(1) content_hash(6) event(4) feed(2) sketch(32) tokens(2, big endian)
-- cluster(17: the canonical article id, see store.pack_cluster).
--
-- The script computes the keys of candidate records itself (they are only known
-- after the band lookups), so the dedup state must live on one Redis node.

-- ARGV[1]: settings, space-separated (see store.DedupStore._config).
-- ARGV[2]: the article, fixed-width binary (see store.DedupStore._blob):
--   ref(6) content_hash(6) event(4) feed(2) sketch(32) tokens(2) guid_ref(6,
--   all zero bytes when none) BANDS band keys(6 each) cluster(rest).
local conf = {}
for word in string.gmatch(ARGV[1], '%S+') do conf[#conf + 1] = word end
local prefix = conf[1]
local now = tonumber(conf[2])
if now == 0 then now = tonumber(redis.call('TIME')[1]) end
local window = tonumber(conf[3])
local ngens = tonumber(conf[4])
local rbuckets = tonumber(conf[5])
local bbuckets = tonumber(conf[6])
local min_tokens = tonumber(conf[7])
local exact_below = tonumber(conf[8])
local strict_below = tonumber(conf[9])
local strict_sim = tonumber(conf[10])
local near_sim = tonumber(conf[11])
local contain_ratio = tonumber(conf[12])
local nbands = tonumber(conf[13])

local blob = ARGV[2]
local self_ref = string.sub(blob, 1, 6)
local chash = string.sub(blob, 7, 12)
local event = string.sub(blob, 13, 16)
local feed = string.sub(blob, 17, 18)
local sketch = string.sub(blob, 19, 50)
local tokens = string.byte(blob, 51) * 256 + string.byte(blob, 52)
local record_tail = string.sub(blob, 7, 52) -- what a record stores after its kind
local guid_ref = string.sub(blob, 53, 58)
if guid_ref == string.rep('\0', 6) then guid_ref = '' end
local bands = {}
for i = 1, nbands do
  local at = 59 + (i - 1) * 6
  bands[i] = string.sub(blob, at, at + 5)
end
local cluster_self = string.sub(blob, 59 + nbands * 6)

local gen_len = window
local gen = math.floor(now / gen_len)
local expire_at = math.floor((gen + 1) * gen_len + window)

local function buckets_of(kind)
  if kind == 'b' then return bbuckets end
  return rbuckets
end

local function loc(kind, g, x)
  local b = (string.byte(x, 1) * 256 + string.byte(x, 2)) % buckets_of(kind)
  if kind == 'b' then
    return prefix .. kind .. g .. ':' .. b, string.sub(x, 3, 5)
  end
  return prefix .. kind .. g .. ':' .. b, string.sub(x, 3, 6)
end

local function find(kind, x)
  for g = gen, gen - ngens + 1, -1 do
    local key, field = loc(kind, g, x)
    local v = redis.call('HGET', key, field)
    if v then return v, g end
  end
  return nil, nil
end

local function put(kind, x, value, only_new)
  local key, field = loc(kind, gen, x)
  -- (EXISTS rather than EXPIREAT ... NX: the embedded Redis is 6.2.)
  local created = redis.call('EXISTS', key) == 0
  if only_new then
    redis.call('HSETNX', key, field, value)
  else
    redis.call('HSET', key, field, value)
  end
  if created then
    redis.call('EXPIREAT', key, expire_at)
    local counter = prefix .. 'n' .. gen
    redis.call('INCR', counter)
    redis.call('EXPIREAT', counter, expire_at)
  end
end

local function record(kind, cluster)
  return kind .. record_tail .. cluster
end

local function parse(v)
  return {
    kind = string.sub(v, 1, 1),
    chash = string.sub(v, 2, 7),
    event = string.sub(v, 8, 11),
    feed = string.sub(v, 12, 13),
    sketch = string.sub(v, 14, 45),
    tokens = string.byte(v, 46) * 256 + string.byte(v, 47),
    cluster = string.sub(v, 48),
  }
end

-- Share of the 64 four-bit sketch values that agree, corrected for the 1/16
-- chance agreement, estimates the Jaccard similarity of the shingle sets.
local function similarity(a, b)
  local agree = 0
  for i = 1, 32 do
    local d = bit.bxor(string.byte(a, i), string.byte(b, i))
    if d % 16 == 0 then agree = agree + 1 end
    if d < 16 then agree = agree + 1 end
  end
  return (agree / 64 - 1 / 16) / (15 / 16)
end

-- A copy with a paragraph cut is mostly contained in the original: when the
-- sizes are comparable, score the share of the smaller text found in the
-- larger one (|A and B| = J(|A|+|B|)/(1+J)); else the Jaccard estimate alone.
local function score_of(sim, ta, tb)
  if sim <= 0 then return 0 end
  local a, b = math.max(ta - 4, 1), math.max(tb - 4, 1)
  local small, large = math.min(a, b), math.max(a, b)
  if small < contain_ratio * large then return sim end
  return math.max(sim, math.min(1, sim * (a + b) / ((1 + sim) * small)))
end

-- Record kinds: N new, U update, G/C/R duplicate by guid/content/near,
-- X a known duplicate whose text changed (nothing to emit).
-- Returned decisions: the record kinds, plus S (unchanged) and L (same URL
-- from another feed); both leave state untouched and emit nothing.

-- 1. The article id (hash of the canonical URL) is known.
local existing, existing_gen = find('r', self_ref)
if existing then
  local rec = parse(existing)
  if rec.event == event then
    -- The same event again: a retry after a crash before its output was
    -- committed. Repeat the decision so its output is produced once more.
    return {rec.kind, rec.cluster, '0'}
  end
  if rec.feed ~= feed then
    return {'L', rec.cluster, '0'}
  end
  if rec.chash == chash then
    if existing_gen < gen then
      put('r', self_ref, existing, false) -- still in the feed: keep remembering it
    end
    return {'S', rec.cluster, '0'}
  end
  local kind = 'U'
  if rec.kind == 'G' or rec.kind == 'C' or rec.kind == 'R' or rec.kind == 'X' then
    kind = 'X'
  end
  put('r', self_ref, record(kind, rec.cluster), false)
  if tokens >= min_tokens then
    for i = 1, nbands do put('b', bands[i], self_ref, true) end
  end
  return {kind, rec.cluster, '0'}
end

-- 2. A new article id: same GUID in the same feed under another URL?
local decision, cluster, score = nil, nil, 0
if guid_ref ~= '' then
  local owner = find('g', guid_ref)
  if owner and owner ~= self_ref then
    local orec = find('r', owner)
    if orec then
      decision, cluster = 'G', parse(orec).cluster
    end
  end
end

-- 3. Same or nearly the same text: candidates from the LSH bands.
if decision == nil and tokens >= min_tokens then
  local seen = {}
  local best, best_sim = nil, -1
  for i = 1, nbands do
    local ref = find('b', bands[i])
    if ref and ref ~= self_ref and not seen[ref] then
      seen[ref] = true
      local v = find('r', ref)
      if v then
        local crec = parse(v)
        if crec.chash == chash then
          decision, cluster, score = 'C', crec.cluster, 1
          break
        end
        local shortest = math.min(tokens, crec.tokens)
        if shortest >= exact_below then
          local sim = score_of(similarity(sketch, crec.sketch), tokens, crec.tokens)
          local needed = near_sim
          if shortest < strict_below then needed = strict_sim end
          if sim >= needed and sim > best_sim then
            best, best_sim = crec, sim
          end
        end
      end
    end
  end
  if decision == nil and best then
    decision, cluster, score = 'R', best.cluster, best_sim
  end
end

if decision == nil then
  decision, cluster = 'N', cluster_self
end

put('r', self_ref, record(decision, cluster), false)
if guid_ref ~= '' then put('g', guid_ref, self_ref, true) end
if tokens >= min_tokens then
  for i = 1, nbands do put('b', bands[i], self_ref, true) end
end
return {decision, cluster, tostring(score)}
