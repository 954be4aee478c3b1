"""PNG figures of training runs and evaluations (matplotlib, Agg backend).

Three plots, each written atomically to a `.png` path:

- `plot_history`: loss curves and every other training metric.
- `plot_embedding_map`: a 2-D map (t-SNE, PCA or UMAP) of embeddings,
  coloured by label.
- `plot_baseline_bars`: SSL encoder vs random-init encoder vs raw-input
  baseline, one group of bars per evaluation protocol.

matplotlib is imported only when a figure is drawn, and only through its
object-oriented API with the Agg canvas: no `pyplot`, no global backend
switch, no display needed.
"""

from keras_ssl.visualization.plot_baseline_bars import plot_baseline_bars
from keras_ssl.visualization.plot_embedding_map import plot_embedding_map
from keras_ssl.visualization.plot_history import plot_history

__all__ = ["plot_baseline_bars", "plot_embedding_map", "plot_history"]
