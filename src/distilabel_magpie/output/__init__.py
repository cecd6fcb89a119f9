"""The run's output folder: `SaveDataset` writes the dataset (through `storage/`), its summary,
the rows a filter rejected and the run report (`report/`)."""
