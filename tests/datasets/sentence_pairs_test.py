import logging

import numpy as np
import pytest

from keras_ssl.datasets.sentence_pairs import (
    SentencePairs,
    make_sentence_pairs,
    split_sentences,
)


def synthetic_documents(num=300, seed=0):
    """Documents of 1-5 sentences `dI sJ`; 1-sentence ones every 7th."""
    rng = np.random.default_rng(seed)
    documents, counts = [], []
    for i in range(num):
        n = 1 if i % 7 == 0 else int(rng.integers(2, 6))
        documents.append("; ".join(f'"d{i} s{j}"' for j in range(n)))
        counts.append(n)
    return documents, np.array(counts)


def parse(sentence):
    document, position = sentence.split()
    return int(document[1:]), int(position[1:])


class TestSplitSentences:
    def test_wordnet_gloss(self):
        gloss = 'make a loud noise, as of an animal; "the dog barked"; "he barks"'
        assert split_sentences(gloss) == [
            "make a loud noise, as of an animal",
            "the dog barked",
            "he barks",
        ]

    def test_prose_splits_after_sentence_final_punctuation(self):
        text = "It rained all day. We stayed in! Did it stop? 3 days later it did."
        assert split_sentences(text) == [
            "It rained all day.",
            "We stayed in!",
            "Did it stop?",
            "3 days later it did.",
        ]

    def test_initials_and_abbreviations_do_not_split(self):
        text = (
            "the Confederates under Robert E. Lee defeated the U.S. Army. "
            "Dr. Smith came (e.g. Easter) too."
        )
        assert split_sentences(text) == [
            "the Confederates under Robert E. Lee defeated the U.S. Army.",
            "Dr. Smith came (e.g. Easter) too.",
        ]

    def test_lowercase_after_a_period_does_not_split(self):
        assert split_sentences("a cat etc. and a dog") == ["a cat etc. and a dog"]

    def test_strips_quotes_and_drops_empty_pieces(self):
        assert split_sentences(' ; "" ; ... ;  a cat ;"the cat sat" ;') == [
            "a cat",
            "the cat sat",
        ]
        # Quotes inside a sentence stay.
        assert split_sentences('"Why?" she asked.') == ['"Why?" she asked.']
        assert split_sentences("") == []

    def test_custom_separators_and_no_sentence_end(self):
        text = "It ran. Bob | c"
        assert split_sentences(text, separators=("|",)) == ["It ran.", "Bob", "c"]
        assert split_sentences(text, separators="|", sentence_end=False) == [
            "It ran. Bob",
            "c",
        ]
        assert split_sentences("a; b", separators=()) == ["a; b"]

    @pytest.mark.parametrize("bad", [None, 3, b"a; b", ["a; b"]])
    def test_non_str_document_raises(self, bad):
        with pytest.raises(ValueError, match="document"):
            split_sentences(bad)

    @pytest.mark.parametrize("bad", [("",), (";", 3), 5])
    def test_bad_separators_raise(self, bad):
        with pytest.raises(ValueError, match="separators"):
            split_sentences("a; b", separators=bad)


class TestMakeSentencePairs:
    def test_sizes_and_types(self):
        documents, counts = synthetic_documents()
        pairs = make_sentence_pairs(documents, seed=0)
        assert isinstance(pairs, SentencePairs)
        n = int(np.sum(counts[counts >= 2] - 1))
        assert len(pairs) == n
        for array in (pairs.first, pairs.second):
            assert array.dtype == object and array.shape == (n,)
            assert all(isinstance(s, str) for s in array)
        assert pairs.is_next.dtype == np.int32
        assert set(np.unique(pairs.is_next)) <= {0, 1}
        assert pairs.num_documents == len(documents)
        assert "SentencePairs(n=" in repr(pairs)

    @pytest.mark.parametrize("next_fraction", [0.5, 0.2])
    def test_fraction_of_true_pairs_within_binomial_bounds(self, next_fraction):
        documents, _ = synthetic_documents()
        pairs = make_sentence_pairs(documents, seed=1, next_fraction=next_fraction)
        n = len(pairs)
        sigma = np.sqrt(n * next_fraction * (1 - next_fraction))
        assert abs(pairs.is_next.sum() - n * next_fraction) < 4 * sigma

    def test_true_pairs_are_consecutive_in_their_document(self):
        documents, _ = synthetic_documents()
        pairs = make_sentence_pairs(documents, seed=0)
        assert pairs.is_next.sum() > 0
        for k in np.flatnonzero(pairs.is_next):
            d1, p1 = parse(pairs.first[k])
            d2, p2 = parse(pairs.second[k])
            assert d1 == d2 == pairs.first_document[k] == pairs.second_document[k]
            assert p2 == p1 + 1

    def test_random_seconds_come_from_other_documents(self):
        documents, counts = synthetic_documents()
        pairs = make_sentence_pairs(documents, seed=0)
        random = np.flatnonzero(pairs.is_next == 0)
        assert random.size > 0
        seen = set()
        for k in random:
            d1, _ = parse(pairs.first[k])
            d2, p2 = parse(pairs.second[k])
            assert d1 == pairs.first_document[k]
            assert d2 == pairs.second_document[k] != d1
            # Never a first sentence, and never from a skipped document.
            assert p2 >= 1 and counts[d2] >= 2
            seen.add(d2)
        assert len(seen) > 50  # drawn across the corpus

    def test_every_consecutive_pair_gives_one_example(self):
        documents, _ = synthetic_documents(40)
        pairs = make_sentence_pairs(documents, seed=0)
        firsts = sorted(parse(s) for s in pairs.first)
        expected = sorted(
            (d, p)
            for d, doc in enumerate(documents)
            for p in range(len(split_sentences(doc)) - 1)
        )
        assert firsts == expected

    def test_deterministic_given_the_seed(self):
        documents, _ = synthetic_documents()
        a = make_sentence_pairs(documents, seed=3)
        b = make_sentence_pairs(documents, seed=3)
        c = make_sentence_pairs(documents, seed=4)
        for name in ("first", "second", "is_next", "second_document"):
            np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
        assert not np.array_equal(a.is_next, c.is_next)

    def test_skipped_documents_are_counted_and_logged(self, caplog):
        documents, counts = synthetic_documents()
        documents = [*documents, "", "; ;"]
        with caplog.at_level(logging.INFO, logger="keras_ssl"):
            pairs = make_sentence_pairs(documents)
        skipped = int(np.sum(counts < 2)) + 2
        assert pairs.num_skipped == skipped
        assert f"skipped {skipped} of {len(documents)} documents" in caplog.text

    @pytest.mark.parametrize("next_fraction", [0.0, 1.0])
    def test_extreme_fractions(self, next_fraction):
        documents, _ = synthetic_documents(30)
        pairs = make_sentence_pairs(documents, next_fraction=next_fraction)
        assert np.all(pairs.is_next == int(next_fraction))

    def test_one_long_document_is_enough_without_random_pairs(self):
        pairs = make_sentence_pairs(["a; b; c", "d"], next_fraction=1.0)
        assert list(pairs.first) == ["a", "b"] and list(pairs.second) == ["b", "c"]
        with pytest.raises(ValueError, match="different document"):
            make_sentence_pairs(["a; b; c", "d"])

    def test_wordnet_glosses(self):
        from keras_ssl.datasets import load

        try:
            glosses = load("wordnet").x[:3000]
        except Exception as e:  # no local copy
            pytest.skip(f"WordNet is not available: {e}")
        pairs = make_sentence_pairs(glosses, seed=0)
        with_semicolon = sum(";" in g for g in glosses)
        assert 0.5 * with_semicolon < len(glosses) - pairs.num_skipped
        assert len(pairs) >= len(glosses) - pairs.num_skipped
        # Usage examples lose their quotes.
        assert not any(s.count('"') == 2 and s[0] == s[-1] == '"' for s in pairs.second)

    @pytest.mark.parametrize(
        "documents, match",
        [
            ([], "0 documents"),
            ("a; b", "not one string"),
            (["a; b", 3, None], r"2 of 3 .*documents\[1\]=3"),
            ([b"a; b"], "strings"),
            (np.array([["a; b"]]), "1-D"),
        ],
        ids=["empty", "str", "non-str", "bytes", "2-D"],
    )
    def test_bad_documents_raise(self, documents, match):
        with pytest.raises(ValueError, match=match):
            make_sentence_pairs(documents)

    def test_no_document_with_two_sentences_raises(self):
        with pytest.raises(ValueError, match=r"`documents`.*3 documents.*2 or more"):
            make_sentence_pairs(["a cat", "a dog", ""])

    @pytest.mark.parametrize("fraction", [-0.1, 1.5, "0.5", None, True])
    def test_bad_next_fraction_raises(self, fraction):
        with pytest.raises(ValueError, match="next_fraction"):
            make_sentence_pairs(["a; b", "c; d"], next_fraction=fraction)

    def test_bad_seed_raises(self):
        with pytest.raises(ValueError, match="seed"):
            make_sentence_pairs(["a; b", "c; d"], seed=0.5)
