"""Collapse diagnostics for self-supervised embeddings, and perplexity.

Each diagnostic is a plain function of a batch (`keras.ops` maths) and a
stateful `keras.metrics.Metric` to update inside a `train_step`:

- `embedding_std` / `EmbeddingStd`: std of L2-normalised embeddings.
- `effective_rank` / `EffectiveRank`: entropy-based rank of the embeddings.
- `alignment` / `Alignment`: distance between positive pairs.
- `uniformity` / `Uniformity`: spread of embeddings on the sphere.
- `perplexity` / `Perplexity`: exp of the mean token negative log-likelihood.
"""

from keras_ssl.metrics.alignment import Alignment, alignment
from keras_ssl.metrics.effective_rank import EffectiveRank, effective_rank
from keras_ssl.metrics.embedding_std import EmbeddingStd, embedding_std
from keras_ssl.metrics.perplexity import Perplexity, perplexity
from keras_ssl.metrics.uniformity import Uniformity, uniformity

__all__ = [
    "Alignment",
    "EffectiveRank",
    "EmbeddingStd",
    "Perplexity",
    "Uniformity",
    "alignment",
    "effective_rank",
    "embedding_std",
    "perplexity",
    "uniformity",
]
