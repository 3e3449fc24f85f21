"""dispatch_core"""
