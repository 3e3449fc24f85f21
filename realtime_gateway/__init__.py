"""realtime_gateway"""
