"""Alert lifecycle, pager messages and (later) delivery bridges."""
