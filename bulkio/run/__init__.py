"""Carrying out a plan: `apply` (batches, guards, reconciling what the server did), `journal` (each batch's
intent on disk before it is sent), `results` (what happened to each row, as a workbook) and `undo`."""
