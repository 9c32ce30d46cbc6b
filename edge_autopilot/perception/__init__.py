"""Perception networks and the ONNX runtime wrapper every network in the stack shares."""
