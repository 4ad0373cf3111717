"""Long work a person asked for, run in a thread with progress in the database: training, evaluation, backtests."""
