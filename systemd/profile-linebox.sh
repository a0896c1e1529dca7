# linebox: the installed box's paths and command for login shells (serial console, ssh).
# Installed as /etc/profile.d/linebox.sh by board/install.sh; the settings are /etc/linebox/linebox.env.
if [ -r /etc/linebox/linebox.env ]; then
	set -a
	. /etc/linebox/linebox.env
	set +a
fi
case ":$PATH:" in
*:/opt/linebox/current/venv/bin:*) ;;
*) PATH="$PATH:/opt/linebox/current/venv/bin" ;;
esac
