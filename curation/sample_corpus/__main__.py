import sys

from curation.sample_corpus.build import main

sys.exit(main())
