"""Datasets on disk: the one reader and writer of row files (`files`) and the column schema
(`columns`). The `SaveDataset` step that writes a run's folder is in `output/`."""
