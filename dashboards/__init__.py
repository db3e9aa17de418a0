"""The Streamlit dashboard; it reads only through ``analytics``."""
