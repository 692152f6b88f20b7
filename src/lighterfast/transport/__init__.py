"""Transports: one picows WebSocket connection (`ws`) and one aiohttp REST session (`rest`)."""
