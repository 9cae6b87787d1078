//! Deterministic readable text from `fake`: one RNG per entity, seeded from the
//! file's seed and the entity id, so adding a story never changes another's text.

use fake::Fake;
use fake::faker::lorem::en::{Sentence, Words};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use sha2::{Digest, Sha256};

pub struct Text(ChaCha8Rng);

impl Text {
    pub fn new(seed: u64, entity: &str, purpose: &str) -> Self {
        let digest = Sha256::new()
            .chain_update(seed.to_le_bytes())
            .chain_update(entity.as_bytes())
            .chain_update([0])
            .chain_update(purpose.as_bytes())
            .finalize();
        let mut key = [0u8; 32];
        key.copy_from_slice(&digest);
        Text(ChaCha8Rng::from_seed(key))
    }

    /// One sentence of `min..max` words.
    pub fn sentence(&mut self, min: usize, max: usize) -> String {
        Sentence(min..max).fake_with_rng(&mut self.0)
    }

    /// A few capitalised words, for names and titles.
    pub fn title(&mut self, min: usize, max: usize) -> String {
        let words: Vec<String> = Words(min..max).fake_with_rng(&mut self.0);
        words
            .iter()
            .map(|w| {
                let mut c = w.chars();
                c.next()
                    .map(|f| f.to_uppercase().chain(c).collect())
                    .unwrap_or_default()
            })
            .collect::<Vec<String>>()
            .join(" ")
    }

    /// About `words` words of prose in paragraphs of four to seven sentences.
    pub fn prose(&mut self, words: usize) -> String {
        // Written into one buffer: a scale seed makes millions of these, and
        // joining sentence and paragraph vectors was most of their cost.
        let mut prose = String::with_capacity(words * 8);
        let mut written = 0;
        while written < words {
            if !prose.is_empty() {
                prose.push_str("\n\n");
            }
            for i in 0..(4..8).fake_with_rng::<usize, _>(&mut self.0) {
                let s = self.sentence(6, 16);
                // Lorem words hold no spaces: words are spaces plus one.
                written += s.bytes().filter(|b| *b == b' ').count() + 1;
                if i > 0 {
                    prose.push(' ');
                }
                prose.push_str(&s);
                if written >= words {
                    break;
                }
            }
        }
        prose
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_entity_and_purpose_give_the_same_text() {
        let a = Text::new(7, "story-1", "summary").sentence(5, 9);
        assert_eq!(a, Text::new(7, "story-1", "summary").sentence(5, 9));
        assert_ne!(a, Text::new(7, "story-2", "summary").sentence(5, 9));
        assert_ne!(a, Text::new(8, "story-1", "summary").sentence(5, 9));
    }

    #[test]
    fn prose_has_the_words_asked_for() {
        let prose = Text::new(1, "scene", "body").prose(120);
        let words = prose.split_whitespace().count();
        assert!((110..=130).contains(&words), "{words} words");
    }

    /// The joins `prose` replaced, kept as the reference: seeded data must
    /// not change between versions, or every database seeded before drifts.
    #[test]
    fn prose_is_the_text_the_joining_version_wrote() {
        fn joined(text: &mut Text, words: usize) -> String {
            let mut paragraphs = Vec::new();
            let mut written = 0;
            while written < words {
                let mut paragraph = Vec::new();
                for _ in 0..(4..8).fake_with_rng::<usize, _>(&mut text.0) {
                    let s = text.sentence(6, 16);
                    written += s.split_whitespace().count();
                    paragraph.push(s);
                    if written >= words {
                        break;
                    }
                }
                paragraphs.push(paragraph.join(" "));
            }
            paragraphs.join("\n\n")
        }
        for (n, words) in [(0, 1), (1, 60), (2, 80), (3, 350), (4, 1200)] {
            let entity = format!("scene-{n}");
            let reference = joined(&mut Text::new(9, &entity, "body"), words);
            assert_eq!(Text::new(9, &entity, "body").prose(words), reference);
        }
    }
}
