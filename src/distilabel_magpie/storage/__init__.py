"""Datasets on disk: the row files (`files`), the column schema (`columns`) and the SaveDataset step (`save`)."""
