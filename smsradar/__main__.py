from smsradar.cli import main

main()
