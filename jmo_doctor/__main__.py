from jmo_doctor.cli import main

main()
