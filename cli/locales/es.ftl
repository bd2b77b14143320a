# Mensajes del comando `kith`, en español.
# Cada idioma tiene un archivo con los mismos identificadores; ver cli/src/i18n.rs.

identity-created = identidad creada { $identity }
identity-exists = la identidad { $identity } ya existe
identity = identidad { $identity }
identity-new = identidad { $identity } (nueva)
data-dir = carpeta de datos { $path }
error-no-data-dir = no hay carpeta de datos: usa --data-dir o define KITH_DATA_DIR
error-cannot-access = no se puede acceder a { $path }: { $cause }
error-bad-key = { $path } no contiene una clave válida: { $cause }
error-other = { $error }
up-peer-id = id de par { $peer }
up-listening = escuchando en { $addr }
up-gateway = Pasarela (API HTTP): { $url }
up-running = en marcha; pulsa Ctrl-C para detener
up-stopping = deteniendo: terminando las escrituras…
up-stopped = detenido
error-config = configuración: { $cause }
