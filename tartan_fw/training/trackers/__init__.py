"""Experiment trackers beside TensorBoard (``trainer.report_to``); importing registers the built-in ones
(their packages are imported only when a run asks for them)."""

from tartan_fw.training.trackers.base import Tracker, tracker_callbacks
from tartan_fw.training.trackers.mlflow import MLflowTracker
from tartan_fw.training.trackers.wandb import WandbTracker

__all__ = ["MLflowTracker", "Tracker", "WandbTracker", "tracker_callbacks"]
