"""`python -m posevideo ...`, which is also what `torchrun -m posevideo ...` runs."""
from posevideo.cli import main

if __name__ == "__main__":
    main()
