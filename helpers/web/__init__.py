"""The HTTP side: thin blueprints (pages, api/, metrics, openapi), the access gate and its policy.

Routes parse, call storage/runtime/core and answer; they hold no logic of their own. Never imports cli or edge.
"""
