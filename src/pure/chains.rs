//! A pass over Redis' keyspace split into chains of SCAN steps that run side
//! by side, so a large keyspace does not cost one round trip per step. Redis
//! hands out cursors in reverse-binary bucket order: the cursor's low bits,
//! reversed, tell how far a pass has come, whatever the table's size.

/// Keys a step of 40 ms covers, about (BENCHMARKS.md).
const KEYS_PER_STEP: u64 = 50_000;

/// The most chains. Their steps share one budget (cache.rs' `PASS_BUDGET`),
/// so four steps of 20 ms keep the server busy through a round trip of up to
/// 60 ms, while another client's command waits behind about two of them.
const MOST: u32 = 4;

/// A chain's next move after a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Step again from the cursor.
    Go,
    /// The chain's share (or the keyspace) is done.
    Done,
    /// The cursor is not Redis': the pass should be walked again unsplit.
    Foreign,
}

/// How many chains a pass runs (a power of two) and which cursors each owns:
/// chain `i` of `n` starts where the counter (the cursor bit-reversed) reads
/// `i / n` and stops when it reaches `(i + 1) / n` or wraps to 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chains {
    bits: u32,
}

impl Chains {
    /// One chain from cursor 0: the documented SCAN, for any server.
    pub const ONE: Chains = Chains { bits: 0 };

    /// The chains for a keyspace of `keys` keys on the server whose
    /// `INFO server` answer is `info`. Only a standalone Redis or Valkey is
    /// split: a cursor is opaque by the documentation, and other servers that
    /// speak the protocol (a cluster, Dragonfly, Kvrocks, proxies) number
    /// theirs differently, so a chain could stop short of its share's end.
    pub fn for_keyspace(keys: u64, info: &str) -> Chains {
        let field = |name: &str| {
            info.lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
                .map(str::trim)
        };
        // Fields only Redis' own server (and Valkey, its fork) reports;
        // Valkey 8 names its mode `server_mode` (`redis_mode` only with
        // `extended-redis-compatibility yes`).
        let standalone = [field("redis_mode"), field("server_mode")].contains(&Some("standalone"));
        let redis_like = standalone
            && field("multiplexing_api").is_some()
            && field("executable").is_some()
            && field("dragonfly_version").is_none()
            && field("kvrocks_version").is_none();
        if !redis_like {
            return Chains::ONE;
        }
        let wanted = keys.div_ceil(KEYS_PER_STEP).clamp(1, u64::from(MOST));
        Chains {
            bits: wanted.next_power_of_two().trailing_zeros(),
        }
    }

    /// log2 of [`Chains::count`], as the scan script takes it.
    pub fn bits(self) -> u32 {
        self.bits
    }

    pub fn count(self) -> u32 {
        1 << self.bits
    }

    /// The cursor chain `i` starts from.
    pub fn start(self, i: u32) -> u64 {
        self.reversed(u64::from(i))
    }

    /// What chain `i` does with the cursor a step answered. An unsplit pass
    /// takes the cursor as the opaque text it is (Kvrocks' are not numbers);
    /// a split one reads it, and one that is not a number, or comes before
    /// the chain's share, means the server does not number cursors as Redis
    /// does.
    pub fn after(self, i: u32, cursor: &str) -> Next {
        if self == Chains::ONE {
            return if cursor == "0" { Next::Done } else { Next::Go };
        }
        match cursor.parse::<u64>() {
            Ok(n) if self.went_back(i, n) => Next::Foreign,
            Ok(n) if self.continues(i, n) => Next::Go,
            Ok(_) => Next::Done,
            Err(_) => Next::Foreign,
        }
    }

    /// Whether chain `i` goes on from `cursor` (0 ends every pass).
    fn continues(self, i: u32, cursor: u64) -> bool {
        cursor != 0 && self.owner(cursor) == i
    }

    /// Whether `cursor` comes before chain `i`'s share: the counter only
    /// grows, so it never does on Redis.
    fn went_back(self, i: u32, cursor: u64) -> bool {
        cursor != 0 && self.owner(cursor) < i
    }

    fn owner(self, cursor: u64) -> u32 {
        let low = cursor & ((1u64 << self.bits) - 1);
        self.reversed(low) as u32
    }

    fn reversed(self, low: u64) -> u64 {
        if self.bits == 0 {
            0
        } else {
            low.reverse_bits() >> (64 - self.bits)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REDIS: &str = "# Server\r\nredis_version:7.0.15\r\nredis_mode:standalone\r\n\
                         multiplexing_api:epoll\r\nexecutable:/usr/bin/redis-server\r\n";

    #[test]
    fn only_a_large_standalone_redis_is_split() {
        assert_eq!(Chains::for_keyspace(10, REDIS).count(), 1);
        assert_eq!(Chains::for_keyspace(50_000, REDIS).count(), 1);
        assert_eq!(Chains::for_keyspace(50_001, REDIS).count(), 2);
        assert_eq!(Chains::for_keyspace(120_000, REDIS).count(), 4);
        assert_eq!(Chains::for_keyspace(1_000_000, REDIS).count(), 4);
        let cluster = REDIS.replace("standalone", "cluster");
        assert_eq!(Chains::for_keyspace(1_000_000, &cluster).count(), 1);
        let dragonfly = format!("{REDIS}dragonfly_version:df-v1.2\r\n");
        assert_eq!(Chains::for_keyspace(1_000_000, &dragonfly).count(), 1);
        assert_eq!(Chains::for_keyspace(1_000_000, "").count(), 1);
        let kvrocks = format!("{REDIS}kvrocks_version:2.9\r\n");
        assert_eq!(Chains::for_keyspace(1_000_000, &kvrocks).count(), 1);
        let hidden = REDIS.replace("executable:", "x:");
        assert_eq!(Chains::for_keyspace(1_000_000, &hidden).count(), 1);
        // Valkey 8.1.1's INFO server, abridged.
        let valkey = "# Server\r\nredis_version:7.2.4\r\nserver_name:valkey\r\n\
                      valkey_version:8.1.1\r\nserver_mode:standalone\r\n\
                      multiplexing_api:epoll\r\nexecutable:/usr/bin/valkey-server\r\n";
        assert_eq!(Chains::for_keyspace(1_000_000, valkey).count(), 4);
        let valkey_cluster = valkey.replace("server_mode:standalone", "server_mode:cluster");
        assert_eq!(Chains::for_keyspace(1_000_000, &valkey_cluster).count(), 1);
    }

    #[test]
    fn chains_start_at_their_share_and_stop_at_the_next() {
        let four = Chains { bits: 2 };
        // Counter quarters 0, 1/4, 1/2, 3/4 are cursors 0b00, 0b10, 0b01, 0b11.
        let starts: Vec<u64> = (0..4).map(|i| four.start(i)).collect();
        assert_eq!(starts, [0, 2, 1, 3]);
        for i in 0..4 {
            assert!(four.continues(i, four.start(i)) || i == 0);
        }
        // Bucket 4 of a table of 8 (cursor 0b100, counter 1/8) is chain 0's.
        assert!(four.continues(0, 0b100));
        assert!(!four.continues(0, 0b010));
        assert!(!four.continues(3, 0), "0 ends the last chain");
        assert!(four.went_back(2, 0b100));
        assert!(!four.went_back(2, 0b111));
        assert!(Chains::ONE.continues(0, 12345));
        assert_eq!(Chains::ONE.start(0), 0);
        assert_eq!(four.after(0, "4"), Next::Go);
        assert_eq!(four.after(0, "2"), Next::Done);
        assert_eq!(four.after(3, "0"), Next::Done);
        assert_eq!(four.after(2, "4"), Next::Foreign);
        assert_eq!(four.after(1, "abc"), Next::Foreign);
        assert_eq!(Chains::ONE.after(0, "abc"), Next::Go);
        assert_eq!(Chains::ONE.after(0, "0"), Next::Done);
    }

    /// Walks a table of `size` buckets the way Redis' dictScan does and
    /// checks that the chains together visit every bucket.
    #[test]
    fn chains_cover_every_bucket_of_any_table_size() {
        fn next(cursor: u64, mask: u64) -> u64 {
            (((cursor | !mask).reverse_bits()).wrapping_add(1)).reverse_bits()
        }
        for bits in 0..=2 {
            let chains = Chains { bits };
            for size in [1u64, 2, 4, 8, 64, 1024] {
                let mask = size - 1;
                let mut seen = vec![false; size as usize];
                for i in 0..chains.count() {
                    let mut cursor = chains.start(i);
                    loop {
                        seen[(cursor & mask) as usize] = true;
                        cursor = next(cursor, mask);
                        assert!(!chains.went_back(i, cursor));
                        if !chains.continues(i, cursor) {
                            break;
                        }
                    }
                }
                assert!(seen.iter().all(|s| *s), "{bits} bits, {size} buckets");
            }
        }
    }
}
