"""Barycenter's release system: a pipeline of small steps driven by Invoke tasks."""
