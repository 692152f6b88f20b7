"""Transports: one picows WebSocket (`websocket`), one aiohttp REST session (`rest`)."""
