# Sourced by the scripts that watch a compose stack (hot-code-order.sh, bench-vs-oxker.sh):
# three containers of the stand-in image labelled as compose project $1's services odoo,
# db and worker, as a droplet's stack looks to Docker. The image is built by the tests.
STANDIN_IMAGE=odoo-ops-test/odoo:18.0-20261101

start_labelled_stack() {
    local service
    for service in odoo db worker; do
        docker run -d --name "$1-$service-1" \
            --label "com.docker.compose.project=$1" \
            --label "com.docker.compose.service=$service" \
            "$STANDIN_IMAGE" >/dev/null
    done
}

remove_labelled_stack() {
    local ids
    ids=$(docker ps -aq --filter "label=com.docker.compose.project=$1")
    if [ -n "$ids" ]; then docker rm -f $ids >/dev/null; fi
}
